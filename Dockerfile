# One image for every service; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY bot bot
COPY userbots userbots
COPY webapp webapp
COPY sandbox sandbox
COPY salesop salesop
COPY migrations migrations
COPY docs/help docs/help
RUN pip install --no-cache-dir .
RUN useradd --create-home salesop && mkdir -p /data && chown salesop /data
USER salesop
ENV SALESOP_DATA_DIR=/data
EXPOSE 8080
CMD ["salesop", "run"]
