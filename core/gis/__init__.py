"""GIS in and out: users' vector files as regions and places (:mod:`core.gis.read`, :mod:`core.gis.region`),
per-place and per-hexagon tables written as GeoPackage, GeoParquet and GeoJSON (:mod:`core.gis.export`,
:mod:`core.gis.tables`), zonal summaries of polygon layers over H3 cells (:mod:`core.gis.zonal`), and
``python -m core export`` (:mod:`core.gis.cli`)."""
