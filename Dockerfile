# Sidecar image: the same `gateway serve` the README runs, as a non-root user.
# Build: docker build -t admin-notification-gateway .   Configuration: GATEWAY_* variables
# (docs/deploy.md lists them all); mount a rules file over /etc/gateway/rules.yaml, or a
# directory over /etc/gateway (a Kubernetes ConfigMap), to replace the bundled rules.
ARG PYTHON_IMAGE=python:3.11-slim

# -- build: install the package and its dependencies into a venv. Every dependency ships
# wheels; the slim base has no compiler, so one that did not would fail here, not later.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/gateway
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY rules ./rules
COPY dashboard ./dashboard
RUN /opt/gateway/bin/pip install .

# -- run: the venv and the rules only; no compilers, no build tools, no sources --
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /var/lib/gateway --create-home \
    --shell /usr/sbin/nologin gateway
COPY --from=build /opt/gateway /opt/gateway
COPY rules.yaml /etc/gateway/rules.yaml
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_CONFIG=/etc/gateway/rules.yaml \
    GATEWAY_DATABASE_URL=sqlite+aiosqlite:////var/lib/gateway/gateway.db \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_LOG_FORMAT=json
# A numeric user, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
WORKDIR /var/lib/gateway
# The SQLite default keeps its database here; with PostgreSQL nothing is written to disk.
VOLUME ["/var/lib/gateway"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# Liveness only: /healthz never touches the database (readiness is /readyz, for orchestrators).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GATEWAY_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["gateway", "serve"]
