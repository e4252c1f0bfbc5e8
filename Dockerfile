# The medaid service as a container image: build with the same script CI
# runs (deploy/build.sh: a locked release build plus a smoke test), then copy
# the one binary into a small Debian runtime that runs as a non-root user.
#
#   docker build -t medaid .
#   docker run -p 8080:8080 -v medaid-data:/var/lib/medaid medaid
#
# See docs/operations.md (and compose.yaml for PostgreSQL).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN deploy/build.sh /out release

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/medaid --create-home medaid
COPY --from=build /out/medaid /usr/local/bin/medaid
COPY fixtures/policies /etc/medaid/policies
ENV MEDAID_LISTEN=0.0.0.0:8080 \
    MEDAID_POLICIES=/etc/medaid/policies \
    MEDAID_DATABASE_URL=sqlite:///var/lib/medaid/medaid.db \
    MEDAID_LOG_FORMAT=json
USER medaid
WORKDIR /var/lib/medaid
VOLUME /var/lib/medaid
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["medaid", "healthcheck"]
ENTRYPOINT ["medaid"]
CMD ["serve"]
