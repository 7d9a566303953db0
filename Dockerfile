# ConnectBook as a container image: one static binary on a distroless base,
# run as a user without privileges. docs/deploying.md says how to run it;
# deploy/dockerfile_test.go checks this file's build without Docker.
#
#   docker build -t connectbook .
#   docker run -v connectbook-data:/data -p 127.0.0.1:8080:8080 connectbook

FROM golang:1.26 AS build
WORKDIR /src
# The modules first: a change to the code alone reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (SQLite included): no C library, so the binary runs on an image
# with none.
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/connectbook ./cmd/connectbook
# The data directory, owned by the user ConnectBook runs as: a new volume
# mounted there starts with this owner.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/connectbook /usr/local/bin/connectbook
COPY --from=build --chown=65532:65532 /out/data /data
# distroless's "nonroot" user, by number, so that a runtime that refuses
# root images (runAsNonRoot) can check it.
USER 65532:65532
VOLUME /data
# On every interface, inside the container. serve refuses plain HTTP on an
# address that is not loopback unless a reverse proxy in front terminates
# TLS (--behind-proxy), or it serves HTTPS itself: this image expects the
# proxy. To serve HTTPS from the container instead, set
# CONNECTBOOK_BEHIND_PROXY=false and CONNECTBOOK_TLS_CERT and
# CONNECTBOOK_TLS_KEY to files mounted into it.
ENV CONNECTBOOK_ADDR=:8080 \
    CONNECTBOOK_DB=/data/connectbook.db \
    CONNECTBOOK_BEHIND_PROXY=true
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/connectbook"]
CMD ["serve"]
