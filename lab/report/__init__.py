"""Reports: the run page, plan pages, comparisons and the index with trends (HTML, JUnit)."""
