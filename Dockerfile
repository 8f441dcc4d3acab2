# syntax=docker/dockerfile:1
# todo-app image: one image for every service. A Kubernetes Deployment picks the
# service with `todo serve --service <name>`; the default command runs the whole
# system in one process (embedded SQLite, in-process bus) on port 8000.
#
#   docker build -t todo-app:dev .
#   docker run --rm -p 8000:8000 todo-app:dev
#
# Stage 1 builds the project's wheel and installs it with its dependencies
# into a virtual environment; stage 2 copies only that environment onto a clean
# slim base: no compiler, no pip cache, no source tree.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the wheel is built from (see .dockerignore).
COPY pyproject.toml README.md ./
COPY services ./services
COPY events ./events
COPY mcp_server ./mcp_server
COPY assistant ./assistant
# Every dependency ships wheels but http-ece (Web Push encryption, pure Python):
# its wheel is built here from its source, which needs no compiler. Refusing
# every other sdist keeps compilers out of both stages. pip and setuptools are
# not needed at run time (fewer packages, fewer scanner findings), so they
# leave the environment before it is copied.
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && pip wheel --no-deps --no-binary=http-ece --wheel-dir /wheels "http-ece>=1.1.0,<2" \
 && python -m venv /opt/todo \
 && /opt/todo/bin/pip install --only-binary=:all: --find-links /wheels /wheels/todo_app-*.whl \
 && /opt/todo/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/todo/bin/python -m compileall -q /opt/todo/lib
# The login page is served from a `web/` folder next to the installed packages.
COPY web /opt/todo/lib/python3.11/site-packages/web

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="todo-app" \
      org.opencontainers.image.description="Chat-first task assistant: task API, recurring-task, notification and audit services" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 todo \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/todo --shell /usr/sbin/nologin todo \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/todo

COPY --from=build /opt/todo /opt/todo

ENV PATH=/opt/todo/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/var/lib/todo \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/todo/todo.db

WORKDIR /var/lib/todo
USER 10001:10001
EXPOSE 8000

# Liveness only (the process answers); /readyz also checks the database and the bus.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["todo", "serve", "--service", "all", "--host", "0.0.0.0"]
