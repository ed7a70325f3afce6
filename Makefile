# The two commands a newcomer needs (see README): `make app` and `make test`.
.PHONY: app test

app:
	bash scripts/setup.sh --features
	.venv/bin/streamlit run app.py

test:
	bash scripts/setup.sh --dev
	.venv/bin/python -m pytest
