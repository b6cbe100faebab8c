//! The database schema: the migrations embedded in the binary ([`MIGRATOR`]), applying them
//! (`app migrate`), and whether a database has the schema this binary was built for: every
//! embedded migration applied successfully, with the same content. That check is one query on
//! `_sqlx_migrations`, cheap enough for every readiness probe.

use std::fmt;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::config::DatabaseConfig;

/// The migrations in `app/migrations`, compiled into the binary (`app migrate` applies them).
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Applies the embedded migrations; safe to run twice and concurrently (sqlx takes an
/// advisory lock and skips what is applied).
pub async fn migrate(database: &DatabaseConfig) -> Result<usize, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(database.acquire_timeout)
        .connect_with(database.options.clone())
        .await?;
    MIGRATOR.run(&pool).await?;
    pool.close().await;
    Ok(MIGRATOR.iter().count())
}

/// What the database's migration table says, against the embedded migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    UpToDate,
    /// No migration table at all: `app migrate` never ran on this database.
    NeverMigrated,
    /// These embedded migrations are not applied (or failed half-way).
    Missing(Vec<i64>),
    /// These were applied from different files than the ones embedded.
    Changed(Vec<i64>),
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        match self {
            Schema::UpToDate => f.write_str("every migration is applied"),
            Schema::NeverMigrated => f.write_str("no migration was ever applied: run `app migrate`"),
            Schema::Missing(v) => write!(f, "migrations not applied: {} (run `app migrate`)", list(v)),
            Schema::Changed(v) => write!(f, "migrations applied from other files than this binary's: {}", list(v)),
        }
    }
}

/// PostgreSQL's `undefined_table`.
const UNDEFINED_TABLE: &str = "42P01";

pub async fn check(pool: &PgPool) -> Result<Schema, sqlx::Error> {
    let rows: Vec<(i64, Vec<u8>)> =
        match sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success").fetch_all(pool).await {
            Ok(rows) => rows,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNDEFINED_TABLE) => {
                return Ok(Schema::NeverMigrated);
            }
            Err(e) => return Err(e),
        };
    let mut missing = Vec::new();
    let mut changed = Vec::new();
    for migration in MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()) {
        match rows.iter().find(|(version, _)| *version == migration.version) {
            None => missing.push(migration.version),
            Some((_, checksum)) if checksum.as_slice() != &*migration.checksum => changed.push(migration.version),
            Some(_) => {}
        }
    }
    Ok(if !missing.is_empty() {
        Schema::Missing(missing)
    } else if !changed.is_empty() {
        Schema::Changed(changed)
    } else {
        Schema::UpToDate
    })
}

#[cfg(test)]
mod tests {
    use super::Schema;

    #[test]
    fn the_reason_says_what_to_do() {
        assert_eq!(Schema::NeverMigrated.to_string(), "no migration was ever applied: run `app migrate`");
        assert_eq!(Schema::Missing(vec![2, 3]).to_string(), "migrations not applied: 2, 3 (run `app migrate`)");
        assert!(Schema::Changed(vec![1]).to_string().ends_with("other files than this binary's: 1"));
    }
}
