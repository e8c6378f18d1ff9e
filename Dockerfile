# One image for the user-code server, the webserver and the daemon (compose picks the command).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home
RUN pip install --no-cache-dir uv
# Optional dependency groups: `--build-arg EXTRA_GROUPS="--group spark"` for ACA_WAREHOUSE=spark (also
# needs a Java 17 runtime in the image for a local session; the spark_thrift target needs none),
# `--group k8s` for any deployment with Dagster's K8sRunLauncher or ACA_EXECUTOR=k8s (deploy/k8s).
# Several: EXTRA_GROUPS="--group spark --group k8s". The default image runs DuckDB and PostgreSQL
# only (pyspark alone is ~320 MB).
ARG EXTRA_GROUPS=""
WORKDIR /opt/aca_warehouse
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-default-groups $EXTRA_GROUPS --no-install-project
COPY aca_warehouse ./aca_warehouse
COPY dbt ./dbt
COPY workspace.yaml ./
RUN uv sync --frozen --no-default-groups $EXTRA_GROUPS \
 && cd dbt && ACA_DBT_TARGET=postgres dbt parse --quiet --profiles-dir . --project-dir . \
 && mkdir -p $DAGSTER_HOME
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml
COPY deploy/workspace.compose.yaml $DAGSTER_HOME/workspace.yaml
