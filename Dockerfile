# mentorbot: the service image. Build with `docker build -t mentorbot .`
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    MENTORBOT_HTTP__HOST=0.0.0.0 \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the pins change.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# The code runs from /app (not site-packages): locales and migrations sit beside it.
COPY bot ./bot
COPY handlers ./handlers
COPY scheduler ./scheduler
COPY storage ./storage
COPY locales ./locales
RUN pybabel compile -d locales -D messages --statistics \
    && useradd --create-home --uid 10001 mentorbot \
    && mkdir -p /app/var && chown mentorbot /app/var

USER mentorbot
VOLUME ["/app/var"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["python", "-m", "bot", "run"]
