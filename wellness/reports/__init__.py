"""Read-only aggregates, charts and exports for admins.

Everything shown rests on GROUP BY queries in the database and passes through small-cell
suppression (``suppression.py``) before it reaches a page, a chart, a CSV file or the API.
See ``docs`` in ``services.py`` for the privacy model.
"""
