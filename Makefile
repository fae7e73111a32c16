# ibkey: `make run` starts the app, `make test` runs every check. Both
# install the Debian/Ubuntu packages they need first.

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
export PATH := $(PATH):$(dir $(GO))

.PHONY: run test build cli web fuzz bench bench-service mutate

run:
	scripts/deps.sh run
	GO=$(GO) scripts/run.sh

test:
	scripts/deps.sh test
	scripts/test.sh

build:
	scripts/deps.sh run
	$(GO) build -o ibkey-app .
	$(GO) build -o ibkey ./cmd/ibkey

cli:
	$(GO) build -o ibkey ./cmd/ibkey

# The app as a web app in build/web: ibkey serve --web build/web serves it
# at /app/ (docs/WEB.md).
web:
	scripts/deps.sh run
	GO=$(GO) scripts/web.sh

FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/test.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The service's scale (docs/DEPLOY.md): responses a second by engine,
# instances and clients, and a store of a million accounts against one of a
# thousand. PostgreSQL comes from Debian's packages (scripts/deps.sh test).
BENCHTIME ?= 20000x
bench-service:
	$(GO) test -run '^$$' -bench 'Responses|StoreSize' -benchtime $(BENCHTIME) -timeout 60m ./portal/

# Mutation testing of authcore and the service's core (docs/TESTING.md):
# efficacy per package against its goal, the living mutants held against
# testdata/equivalent-mutants.txt. About an hour on 2 cores; PACKAGES=
# "authcore/ocra" runs some.
mutate:
	scripts/mutate.sh $(PACKAGES)
