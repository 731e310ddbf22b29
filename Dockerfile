# Deepscreen service image: the HTTP API, the review UI, and (with another command) a worker.
#
#   docker build -t deepscreen .
#   docker compose up -d          # service, worker, PostgreSQL, Redis: see compose.yaml
#
# Everything the scanner needs is in the Python wheels (PyAV bundles FFmpeg, the models ship in
# the package); nothing is downloaded when it runs.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEEPSCREEN_HOME=/var/lib/deepscreen

WORKDIR /opt/deepscreen
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[service]' \
    && useradd --system --home-dir /var/lib/deepscreen --create-home --uid 10001 deepscreen

# Screening reads hostile files with large C libraries: run unprivileged, with the data
# folder the only place it writes.
USER deepscreen
VOLUME ["/var/lib/deepscreen"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"
ENTRYPOINT ["deepscreen"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
