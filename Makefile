# The two commands a newcomer needs (see README): `make app` and `make test`.
.PHONY: app test

app:
	bash scripts/setup.sh --features
	# Two glibc malloc arenas: Streamlit runs each session in a thread of its own, and with the default (8 per core)
	# the server kept ~1.5 MB of every session that came and went (docs/benchmarks.md, "Many users at once").
	MALLOC_ARENA_MAX=2 .venv/bin/streamlit run app.py

test:
	bash scripts/setup.sh --dev
	.venv/bin/python -m pytest
