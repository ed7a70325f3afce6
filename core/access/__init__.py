"""Who may use a shared GeoCSP app, and how much: salted password hashes (:mod:`~core.access.passwords`), the
shared-mode settings read from ``.streamlit/secrets.toml`` (:mod:`~core.access.settings`) and the delay after
failed log-ins (:mod:`~core.access.throttle`). The app's gate itself is :mod:`geovis.access_gate`."""
