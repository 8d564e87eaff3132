# One image for every Python service; the Deployment picks the module
# (services.binding, services.auth, ...). Stubs are generated from proto/
# by the pinned grpcio-tools in a build stage.
FROM python:3.11-slim-bookworm AS build
WORKDIR /app
COPY pyproject.toml ./
COPY services ./services
COPY proto ./proto
COPY scripts/make_prompts.sh ./scripts/
# Voice-menu prompts: speech from services/menu/prompt_texts/*.txt.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends espeak-ng sox >/dev/null \
 && scripts/make_prompts.sh /app/prompts
RUN pip install --no-cache-dir '.[dev]' \
 && mkdir -p gen \
 && python -m grpc_tools.protoc -Iproto --python_out=gen --grpc_python_out=gen \
      $(find proto -name '*.proto')

FROM python:3.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml ./
COPY services ./services
# A non-root user with a fixed id (the manifests' runAsUser) that owns
# nothing in the image: the services write no file (the manifests mount the
# root filesystem read-only, with an emptyDir at /tmp).
RUN pip install --no-cache-dir . \
 && groupadd --system --gid 10001 hotdesk \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin hotdesk
COPY --from=build /app/gen ./gen
COPY --from=build /app/prompts ./prompts
# Bytecode compiled now: at run time the root filesystem is read-only.
RUN python -m compileall -q services gen
ENV PYTHONPATH=/app:/app/gen \
    HOTDESK_MENU_PROMPTS_DIR=/app/prompts \
    PYTHONUNBUFFERED=1
USER 10001:10001
ENTRYPOINT ["python", "-m"]
