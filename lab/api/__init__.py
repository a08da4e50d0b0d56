"""The API under test: FastAPI over a psycopg_pool pool, JSON built by PostgreSQL."""
