# Sidecar image: the same `gateway serve` the README runs, as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/gateway
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY rules ./rules
COPY dashboard ./dashboard
RUN /opt/gateway/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/gateway --create-home gateway
COPY --from=build /opt/gateway /opt/gateway
COPY rules.yaml /etc/gateway/rules.yaml
ENV PATH=/opt/gateway/bin:$PATH \
    GATEWAY_CONFIG=/etc/gateway/rules.yaml \
    GATEWAY_DATABASE_URL=sqlite+aiosqlite:////var/lib/gateway/gateway.db \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_LOG_FORMAT=json
USER gateway
WORKDIR /var/lib/gateway
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
ENTRYPOINT ["gateway", "serve"]
