# hvc — PGXS build.  `make && make install`, then `make installcheck` against a running server.
EXTENSION   = hvc
EXTVERSION  = 0.1.0
MODULE_big  = hvc

CORE_SRCS   = $(sort $(wildcard src/core/*.c))
GLUE_SRCS   = $(sort $(wildcard src/*.c))
OBJS        = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# The install script is assembled from sql/parts/ (one file per concept).
DATA_built  = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA        = $(filter-out $(DATA_built), $(wildcard sql/$(EXTENSION)--*--*.sql))

REGRESS      = $(shell cat test/schedule)
REGRESS_OPTS = --inputdir=test --outputdir=test/out
ISOLATION      = $(shell cat test/isolation_schedule 2>/dev/null)
ISOLATION_OPTS = --inputdir=test --outputdir=test/out-isolation

PG_CFLAGS   = -std=gnu99 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers
SHLIB_LINK  = -lm
EXTRA_CLEAN = $(DATA_built) test/out test/out-isolation

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

.PHONY: unitcheck
unitcheck:
	$(MAKE) -C test/unit check

# PGXS does not track header dependencies: rebuild every object when any header changes.
$(OBJS): $(wildcard src/*.h src/core/*.h)
