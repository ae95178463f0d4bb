# schema_guard: online ALTER TABLE ... ADD COLUMN for PostgreSQL

EXTENSION = schema_guard
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = schema_guard
OBJS = \
	src/settings.o \
	src/util.o \
	src/launcher.o \
	src/job_catalog.o \
	src/job_state.o \
	src/job_leaves.o \
	src/job_notify.o \
	src/job.o \
	src/job_warmup.o \
	src/job_lookup.o \
	src/job_objects.o \
	src/fill_guard.o \
	src/fill.o \
	src/bind.o \
	src/index_build.o \
	src/index_online.o \
	src/exec.o \
	src/app_update.o \
	src/exec_stack.o \
	src/trigger.o \
	src/integrity.o \
	src/lockwait.o \
	src/classify_default.o \
	src/lock_targets.o \
	src/classify_column.o \
	src/classify.o \
	src/decide.o \
	src/stage_constraints.o \
	src/stage.o \
	src/guard_columns.o \
	src/stage_index.o \
	src/stage_not_valid.o \
	src/stage_not_null.o \
	src/stage_unique.o \
	src/guard.o \
	src/throttle.o \
	src/backfill.o \
	src/finalize.o \
	src/reindex.o \
	src/job_revert.o \
	src/worker.o \
	src/utility_hook.o \
	src/api.o \
	src/explain.o \
	src/upgrade.o \
	src/schema_guard.o

DATA = $(wildcard sql/$(EXTENSION)--*.sql)
PGFILEDESC = "schema_guard - online ADD COLUMN"

# Regression tests (sql/, expected/) run against a temporary instance that
# preloads the library, as a real server must.
# setup runs first: it creates the extension and the helpers the others use.
# Tests of PostgreSQL 18's own forms (sql/*_pg18.sql) run on 18 and later;
# where a version's stock output differs, expected/<test>_1.out is its.
REGRESS_PG18 := $(patsubst sql/%.sql,%,$(wildcard sql/*_pg18.sql))
REGRESS_ALL := $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql)))
REGRESS = setup $(sort $(filter-out setup $(REGRESS_PG18),$(REGRESS_ALL)))
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=./test/schema_guard.conf

# Isolation tests (test/specs, test/expected)
ISOLATION := $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=./test --outputdir=./test/output_iso \
	--temp-instance=./tmp_check_iso --temp-config=./test/schema_guard.conf

# TAP tests (test/t), and the module they share (test/perl, not installed).
# prove runs in the source directory; PROVE_FLAGS given on the command line
# (--verbose) add to the include path, hence override.
TAP_TESTS = 1
PROVE_TESTS := $(sort $(wildcard test/t/*.pl))
override PROVE_FLAGS += -I test/perl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# lockwait_ddl drives a session through dblink: it runs where dblink is
# installed (Debian's server packages, and scripts/build-postgres' builds)
ifeq ($(wildcard $(shell $(PG_CONFIG) --sharedir)/extension/dblink.control),)
ISOLATION := $(filter-out lockwait_ddl,$(ISOLATION))
endif

ifeq ($(shell test $(MAJORVERSION) -ge 18 && echo yes),yes)
REGRESS += $(REGRESS_PG18)
endif

# PGXS tracks no header dependencies: rebuild every object when a header
# changes, so that a struct never has two layouts in one library.
$(OBJS): $(wildcard src/*.h)

# installcheck without an already running server: every suite brings its own
installcheck: export PGPORT ?= 65432

.PHONY: demo bench deb
demo:
	scripts/demo

bench:
	bench/run

# Debian packages (postgresql-NN-schema-guard), built in a copy of the tree
# with pg_buildext and dpkg-buildpackage; the .deb files go to DEB_DIR.
DEB_DIR ?= dist
deb:
	scripts/build-deb $(DEB_DIR)
