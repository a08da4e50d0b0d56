# The lab's image for docker-compose.yml: the API, Locust master and workers.
# (The lab needs no container to run: `make run` uses an embedded PostgreSQL.)
FROM python:3.11-slim
WORKDIR /lab
COPY pyproject.toml README.md ./
COPY lab ./lab
COPY schema ./schema
COPY locustfiles ./locustfiles
# The wheel carries schema/ and locustfiles/; they stay in /lab too for `locust -f`.
RUN pip install --no-cache-dir .
ENV PYTHONUNBUFFERED=1
