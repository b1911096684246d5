# lgmock: the sandbox in a container. `docker run -p 8080:8080 lgmock` serves the default
# scenario; mount a scenario and pass `--scenario /scenarios/x.yaml` to use another.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mockserver ./mockserver
COPY contract_tests ./contract_tests
COPY lgspecs ./lgspecs
COPY openapi ./openapi
COPY fixtures ./fixtures
# A regular (not editable) install: the wheel carries openapi/ and fixtures/ inside.
RUN pip install --no-cache-dir . && rm -rf /app/*
EXPOSE 8080
# 0.0.0.0: reachable through the container's published port.
ENTRYPOINT ["lgmock", "serve", "--host", "0.0.0.0", "--port", "8080"]
