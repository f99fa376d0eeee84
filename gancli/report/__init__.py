"""Reports of run folders: `gancli report` (see `build`).

`runs` reads a run folder, `scores` says which logged values are scores and how they rank,
`compare` groups runs and builds the comparison table, `plots` draws the figures, `page`
renders the HTML from the templates in `templates/`. Nothing here trains or evaluates: a
report reads only what `gancli train` wrote.
"""
