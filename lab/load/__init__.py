"""One load, measured: the run database, the API and Locust, the server sampler, faults,
the recorded samples, their statistics and the criteria that judge them."""
