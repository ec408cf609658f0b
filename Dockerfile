# One image for web, worker and beat; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY newsletter ./newsletter
COPY workers ./workers
RUN pip install .

COPY alembic.ini ./
COPY alembic ./alembic
COPY templates ./templates

RUN useradd --create-home --uid 10001 newsletter && mkdir -p /app/var && chown newsletter /app/var
USER newsletter
EXPOSE 8000
CMD ["newsletter", "--help"]
