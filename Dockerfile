# syntax=docker/dockerfile:1
# Multi-stage image: `uv` installs the locked dependencies into a virtual environment in the
# build stage; the runtime stage carries only that environment and the application code and
# runs as an unprivileged user. The same image serves `python -m app` (API, the default
# command) and `python -m app.worker` (generation workers, see docker-compose.yml).
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
# The uv version the Makefile bootstraps, from PyPI like every other dependency.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock ./
# --locked: exactly the versions in uv.lock, which must still match pyproject.toml;
# --no-dev: no test or lint tools in production.
RUN uv sync --locked --no-dev --no-install-project

FROM python:${PYTHON_VERSION}-slim AS runtime
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app:app /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Code stays owned by root: the app user can read it but not rewrite it.
# pyproject.toml: the version reproducibility manifests record.
COPY pyproject.toml alembic.ini ./
COPY alembic ./alembic
COPY app ./app
# Bytecode compiled at build time: the code is read-only to the app user, so every start of
# every API and worker process would otherwise compile it again.
RUN /opt/venv/bin/python -m compileall -q app alembic
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8000
VOLUME ["/data"]
USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:%s/api/v1/utils/health-check/' % os.environ.get('PORT', '8000'), timeout=4).status != 200)"]
CMD ["python", "-m", "app"]
