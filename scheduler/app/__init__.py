"""Room for `aurora-scheduler`, the daemon's wiring: flags (`thermos_executor.daemon.aurora_flags`), the
lifecycle elect -> recover -> register -> serve, and the HTTP server (`thermos_executor.daemon.http`). The one
package that imports every other part of the scheduler."""
