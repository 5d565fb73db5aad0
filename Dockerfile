FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md alembic.ini ./
COPY config ./config
COPY services ./services
COPY workers ./workers
COPY workflows ./workflows
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["interdept", "web", "--host", "0.0.0.0", "--port", "8000"]
