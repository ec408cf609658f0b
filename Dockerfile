# One image for web, worker, beat and the migration step; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

# Everything the product reads at run time lives beside the package: the code finds alembic/, alembic.ini
# and templates/ relative to newsletter/, and the web app serves newsletter/web/static. So the package is
# installed in editable mode and runs from /app, never from a copy in site-packages without them.
COPY pyproject.toml README.md alembic.ini ./
COPY newsletter ./newsletter
COPY workers ./workers
COPY alembic ./alembic
COPY templates ./templates
# The monitoring extra brings Flower, which docker-compose.yml runs under `--profile monitoring`.
RUN pip install -e ".[monitoring]"

RUN useradd --create-home --uid 10001 newsletter && mkdir -p /app/var && chown newsletter /app/var
USER newsletter
EXPOSE 8000
CMD ["newsletter", "--help"]
