# One image for the API, the replication worker, the relay and the one-shot migration.
# The embedded MongoDB-compatible server is not installed: in a container the service
# talks to a real MongoDB through MONGO_URL.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY infrastructure ./infrastructure
COPY api ./api
COPY workers ./workers
COPY cli ./cli
# Wheels for the package and every dependency, so the runtime stage needs no compiler
# and no build cache.
RUN pip wheel --wheel-dir /wheels .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DUALWRITE_DATA_DIR=/var/lib/dualwrite

RUN groupadd --system --gid 10001 dualwrite \
    && useradd --system --uid 10001 --gid dualwrite --home-dir /var/lib/dualwrite --create-home \
       --shell /usr/sbin/nologin dualwrite

COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels dualwrite && rm -rf /wheels

USER dualwrite
WORKDIR /var/lib/dualwrite
EXPOSE 8000

# Probes the API; the worker and relay services override it in docker-compose.yml.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["dualwrite", "serve", "--host", "0.0.0.0", "--port", "8000"]
