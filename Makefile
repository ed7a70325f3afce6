# The two commands a newcomer needs (see README): `make app` and `make test`.
.PHONY: setup setup-dev app test

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

app: setup
	.venv/bin/streamlit run app.py

test: setup-dev
	.venv/bin/python -m pytest
