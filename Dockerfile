# The production image. Stage 1 builds the locked dependencies into a virtualenv; stage 2 is the
# runtime: the venv, the project, a Cyrillic font for report PDFs, a non-root user, a health check.
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock ./
# exactly the locked versions, every file's hash checked
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY config ./config
COPY services ./services
COPY workers ./workers
COPY workflows ./workflows
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.11.11-slim-bookworm AS runtime
# DejaVu: the Cyrillic font the PDF reports are set in; graphviz: the /workflows diagrams
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core graphviz \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system interdept && useradd --system --gid interdept --home-dir /data interdept \
    && mkdir -p /data && chown interdept:interdept /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 INTERDEPT_VAR_DIR=/data
WORKDIR /data
USER interdept
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["interdept", "web", "--host", "0.0.0.0", "--port", "8000"]
