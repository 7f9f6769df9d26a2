"""Reporting: the SQL models over the result tables (`sql_models.py`), the reference study's
published numbers (`reference.py`, with `data/reference_results.csv`) and the report itself:
`render.py` assembles one offline HTML file and a Markdown summary from the column catalogs
(`tables.py`), the cells (`cells.py`), the plots (`figures.py`), the sentences (`findings.py`),
the published students' section (`published.py`) and the page template (`templates/report.html.j2`).
Imports `core`, `store` and `evaluate` (statistics exposed to SQL); never training, the registry or Dagster.
"""
