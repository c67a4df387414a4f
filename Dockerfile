# warroom as a container: the wheel built from this tree, installed into a virtual
# environment, run as an unprivileged user.
#
#   docker build -t warroom .
#   docker run --rm -p 3000:3000 --env-file warroom.env warroom
#
# The templates, the Alembic migrations and the Slack manifest ship inside the wheel as
# package data, so the image needs nothing from the source tree once it is built.

# The oldest Python that pyproject.toml's requires-python allows, the one the tests run on.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
# The package's extras to install: `teams` brings the Teams SDK, so that one image serves
# Slack and Teams. Empty (--build-arg WARROOM_EXTRAS=) for the package alone.
ARG WARROOM_EXTRAS=teams
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . .
# A wheel, not an editable install: the image holds only what the package ships, exactly
# as a user's `pip install` would. Every dependency has a binary wheel: no compiler here.
RUN python -m venv /opt/warroom \
    && pip wheel --no-deps --wheel-dir /dist . \
    && wheel=$(echo /dist/warroom-*.whl) \
    && /opt/warroom/bin/pip install "${wheel}${WARROOM_EXTRAS:+[$WARROOM_EXTRAS]}" \
    && /opt/warroom/bin/pip uninstall --yes pip


FROM python:${PYTHON_VERSION}-slim-bookworm
# Compiled at install time: the running process writes no bytecode, which lets the root
# filesystem be read-only.
ENV PATH=/opt/warroom/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric user, so that Kubernetes' runAsNonRoot can tell it is not root.
RUN groupadd --system --gid 10001 warroom \
    && useradd --system --uid 10001 --gid warroom --home-dir /var/lib/warroom \
       --create-home --shell /usr/sbin/nologin warroom
COPY --from=build /opt/warroom /opt/warroom
# The working directory is where the default SQLite database (./warroom.db) and an optional
# .env file live; with Postgres nothing is written there.
WORKDIR /var/lib/warroom
USER 10001:10001
EXPOSE 3000
# The stdlib, not curl: slim images have no curl. urlopen fails on anything but a 2xx.
# It asks the port CMD serves on: change both together.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
CMD ["warroom", "serve", "--host", "0.0.0.0", "--port", "3000"]
