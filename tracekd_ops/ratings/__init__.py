"""The human side of the study: rating items sampled from the trace sets, a rating page people
open in a browser, ratings stored with the same lineage as every metric, import/export, a
simulated panel for the demo, and the Likert statistics the report shows."""
