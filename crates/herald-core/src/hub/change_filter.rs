//! Subscriptions with a database change filter (`docs/changes.md`): the
//! filter is checked against the change feed's [`ColumnCatalog`] (unknown
//! table or column, operator on an incompatible type: refused), then the
//! subscription only receives, live and in recovery, the changes that pass.

use super::*;
use crate::row_filter::{CatalogAnswer, ChangeFilter, ChangeFilterSet, ColumnCatalog};

impl Hub {
    /// Install the change feed's table catalog. Set once, at start-up;
    /// without one, filtered subscriptions are refused.
    pub fn set_column_catalog(&self, catalog: Arc<dyn ColumnCatalog>) {
        let _ = self.column_catalog.set(catalog);
    }

    /// [`Hub::subscribe`] with an optional change filter (`None`: a plain subscribe).
    pub async fn subscribe_filtered(
        &self,
        conn: &Arc<Connection>,
        channel: ChannelName,
        since: Option<Position>,
        filter: Option<ChangeFilter>,
    ) -> Result<PendingSubscription, HeraldError> {
        let Some(mut filter) = filter else {
            return self.subscribe_granted(conn, channel, since, None).await;
        };
        self.check_change_filter(&channel, &mut filter)?;
        let filters = Arc::new(ChangeFilterSet(vec![filter]));
        self.subscribe_with(conn, channel, since, None, Some(filters)).await
    }

    /// Refuse a filter on a channel that is not a change channel, on a table
    /// outside the publication, or that does not fit the table's columns
    /// (the check of [`Hub::subscribe_filtered`], for a door that applies
    /// several filters of one subscription itself: Supabase's bindings).
    pub fn check_change_filter(&self, channel: &ChannelName, filter: &mut ChangeFilter) -> Result<(), HeraldError> {
        let invalid = |m: String| HeraldError::new(ErrorCode::InvalidFilter, m);
        let Some(catalog) = self.column_catalog.get() else {
            return Err(invalid(format!(
                "{channel}: filters apply to database change channels, and this server has no change feed ([changes] url)"
            )));
        };
        match catalog.lookup(channel) {
            CatalogAnswer::NotAChangeChannel => {
                Err(invalid(format!("{channel} is not a database change channel: filters apply to those only")))
            }
            CatalogAnswer::UnknownTable(table) => Err(invalid(format!(
                "table {table} is not in the change feed's publication: check the name, or add the table to the publication"
            ))),
            CatalogAnswer::NotLoaded => Ok(()),
            CatalogAnswer::Columns(columns) => {
                let table = channel.as_str().split_once(':').map_or(channel.as_str(), |(_, t)| t);
                filter.check_columns(table, &columns)
            }
        }
    }
}
