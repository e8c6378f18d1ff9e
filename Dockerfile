# One image for the user-code server, the webserver and the daemon (compose picks the command).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home
RUN pip install --no-cache-dir uv
WORKDIR /opt/aca_warehouse
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY aca_warehouse ./aca_warehouse
COPY dbt ./dbt
COPY workspace.yaml ./
RUN uv sync --frozen --no-dev \
 && cd dbt && ACA_DBT_TARGET=postgres dbt parse --quiet --profiles-dir . --project-dir . \
 && mkdir -p $DAGSTER_HOME
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml
COPY deploy/workspace.compose.yaml $DAGSTER_HOME/workspace.yaml
