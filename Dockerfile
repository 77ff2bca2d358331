FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY signalhub signalhub
COPY domain domain
COPY integrations integrations
COPY graphql_api graphql_api
COPY bots bots
COPY workers workers
COPY migrations migrations
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["signalhub", "run"]
