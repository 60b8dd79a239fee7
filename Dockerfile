# Mailroom for the scale-out deployment (see docker-compose.yml): API or worker by command.
# Front-end libraries come from the npm registry (package.json + lock).
FROM node:20-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN mkdir -p web/static && npm ci --no-audit --no-fund && npm run build

FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-osd tesseract-ocr-pol tesseract-ocr-ces tesseract-ocr-rus tesseract-ocr-eng \
      fonts-dejavu-core redis-tools libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 mailroom
WORKDIR /app
# Runtime packages only (requirements.lock: what `pip install .` needs); the test tools are in
# requirements-test.lock and never enter the image.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
COPY --from=web /build/web/static/vendor web/static/vendor
# The .po catalogs are committed, their .mo files built here as `make` does (without them every process
# compiles the catalogs in memory at start; .dockerignore keeps a checkout's own .mo files out), and
# simplemma's lemma tries as `make` builds them (storage/lemmas.py), beside the installed package (-P: not
# beside the copy of the source in /app)
RUN pybabel -q compile -D mailroom -d ground/locale \
 && pip install --no-cache-dir --no-deps . && python -P -m storage.lemmas && chown -R mailroom /app

USER 10001
ENV MAILROOM_DATA=/home/mailroom/data OMP_THREAD_LIMIT=1
EXPOSE 8000
CMD ["mailroom", "serve"]
