# mentorbot: one image for every role. Build: docker build -t mentorbot .
# Run: docker run -p 8000:8000 mentorbot (SQLite in /app/var), or see docker-compose.yml and
# docs/operations.md for PostgreSQL with separate web and worker processes.
FROM python:3.11-slim

# No .pyc files beside the root-owned code; matplotlib (the /stats charts) caches in /tmp.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MENTORBOT_HTTP__HOST=0.0.0.0 \
    MENTORBOT_HTTP__PORT=8000 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app

# Dependencies first (this layer is rebuilt only when the pins change): the runtime
# dependencies from pyproject.toml, at the exact versions requirements.lock pins. The lock
# also pins the development tools, which the image does not need.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > /tmp/runtime.txt \
    && pip install --no-cache-dir --constraint requirements.lock --requirement /tmp/runtime.txt \
    && rm /tmp/runtime.txt

# The code runs from /app, where the catalogs, knowledge files and migrations sit beside it;
# the editable install only adds the `mentorbot` command.
COPY README.md ./
COPY bot ./bot
COPY core ./core
COPY handlers ./handlers
COPY scheduler ./scheduler
COPY storage ./storage
COPY locales ./locales
# Catalogs are compiled here: .mo files are built, never committed.
RUN pip install --no-cache-dir --no-deps --editable . \
    && pybabel compile --directory locales --domain messages --statistics \
    && groupadd --system --gid 10001 mentorbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin mentorbot \
    && mkdir /app/var \
    && chown 10001:10001 /app/var

# Not root. /app/var holds the SQLite database when no MENTORBOT_DATABASE_URL is given:
# mount a volume there to keep it.
USER 10001:10001
EXPOSE 8000
# Both roles answer /healthz (a worker serves only it and /metrics). No curl in the slim
# image: Python's urllib fails (exit 1) on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('MENTORBOT_HTTP__PORT', '8000') + '/healthz', timeout=4)"]
# Migrations are applied at start (several processes starting together take turns).
# SIGTERM (docker stop) lets sends in flight finish; the process exits 0 within 10 s.
ENTRYPOINT ["mentorbot"]
CMD ["run"]
