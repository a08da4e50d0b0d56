# The lab's image for docker-compose.yml: the API, Locust master and workers.
# (The lab needs no container to run: `make run` uses an embedded PostgreSQL.)
FROM python:3.11-slim
WORKDIR /lab
COPY pyproject.toml README.md ./
COPY lab ./lab
COPY schema ./schema
COPY locustfiles ./locustfiles
# Editable, so the package finds locustfiles/ and schema/ beside it in /lab.
RUN pip install --no-cache-dir -e .
ENV PYTHONUNBUFFERED=1
