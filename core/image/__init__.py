"""Image encoders (pretrained EfficientNet-Lite0, ResNet family, small CNN), preprocessing and the feature cache."""
