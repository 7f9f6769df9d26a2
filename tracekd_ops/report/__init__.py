"""Reporting: the SQL models over the result tables (`sql_models.py`), the reference study's
published numbers (`reference.py`, with `data/reference_results.csv`) and the report itself
(`render.py`: one offline HTML file and a Markdown summary). Imports `core`, `store` and
`evaluate` (statistics exposed to SQL); never training, the registry or Dagster.
"""
