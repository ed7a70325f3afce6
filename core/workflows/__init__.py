"""The application floor: what the app's pages and the CLI do with the library below it.

Geolocation and its evaluation, the embedding map and its disk cache, the encoder inspector, location-
conditioned prediction, label-budget sweeps, the starter runs and the background job queue that runs
training for the app. These modules build on ``core.location``, ``core.image``, ``core.data``,
``core.train``, ``core.probes`` and ``core.gis``.
"""
