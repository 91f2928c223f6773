//! What Redshift's planner may assume from the keys a table declares. Redshift does not enforce
//! primary, unique or foreign keys, but "the query planner uses them": "if your application
//! allows invalid foreign keys or primary keys, some queries could return incorrect results. For
//! example, a SELECT DISTINCT query might return duplicate rows if the primary key is not unique"
//! ("Defining table constraints"). PostgreSQL, which never sees the keys (they are dropped by
//! [`crate::dialect`]), answers such queries exactly, so a data-quality check that counts
//! duplicates of a declared key would pass here and could pass a duplicate on Redshift.
//!
//! The stand-in therefore makes those assumptions itself, at least where the product's checks
//! could meet them (the page names no rule, so a stricter reading of two):
//! - `COUNT(DISTINCT k)` over one table that declares `k` its primary key or unique is `COUNT(k)`:
//!   the planner may skip the DISTINCT of a column it takes to be unique;
//! - `NOT EXISTS (SELECT ... FROM parent p WHERE p.k = c.f)`, where `c`'s table (or the common
//!   table expression it reads) declares `f` a foreign key to `parent(k)` and `parent` declares
//!   `k` its key, is FALSE: the planner may take every foreign key to find its row and remove
//!   the anti-join.
//!
//! Keys are learnt from every CREATE TABLE the stand-in translates (the product's create-tables
//! runs on every run) and forgotten with DROP TABLE; one map per stand-in.

use sqlparser::ast::{
    ColumnOption, DuplicateTreatment, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    ObjectName, Query, Select, SetExpr, Statement, TableConstraint, TableFactor, UnaryOperator,
    Value, VisitMut, VisitorMut,
};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Mutex;

/// The single-column keys one table declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TableKeys {
    /// Primary key and unique columns.
    unique: Vec<String>,
    /// Foreign-key column → (parent table, parent column).
    foreign: HashMap<String, (String, String)>,
}

/// The keys each table of the warehouse declares, by lower-case table name.
#[derive(Debug, Default)]
pub struct DeclaredKeys {
    tables: Mutex<HashMap<String, TableKeys>>,
}

fn table_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.to_lowercase())
        .unwrap_or_default()
}

fn index_column(column: &sqlparser::ast::IndexColumn) -> Option<String> {
    match &column.column.expr {
        Expr::Identifier(ident) => Some(ident.value.to_lowercase()),
        _ => None,
    }
}

impl DeclaredKeys {
    /// Learns the keys a CREATE TABLE declares, or forgets a dropped table's. Called with the
    /// statement as written, before its keys are dropped for PostgreSQL.
    pub fn record(&self, statement: &Statement) {
        match statement {
            Statement::CreateTable(table) => {
                let mut keys = TableKeys::default();
                let mut unique = |column: String| {
                    if !keys.unique.contains(&column) {
                        keys.unique.push(column);
                    }
                };
                for column in &table.columns {
                    let name = column.name.value.to_lowercase();
                    for option in &column.options {
                        match &option.option {
                            ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_) => {
                                unique(name.clone());
                            }
                            _ => {}
                        }
                    }
                }
                let mut foreign = HashMap::new();
                for column in &table.columns {
                    for option in &column.options {
                        if let ColumnOption::ForeignKey(fk) = &option.option
                            && let [parent] = fk.referred_columns.as_slice()
                        {
                            foreign.insert(
                                column.name.value.to_lowercase(),
                                (table_name(&fk.foreign_table), parent.value.to_lowercase()),
                            );
                        }
                    }
                }
                for constraint in &table.constraints {
                    match constraint {
                        TableConstraint::PrimaryKey(pk) if pk.columns.len() == 1 => {
                            if let Some(column) = index_column(&pk.columns[0]) {
                                unique(column);
                            }
                        }
                        TableConstraint::Unique(u) if u.columns.len() == 1 => {
                            if let Some(column) = index_column(&u.columns[0]) {
                                unique(column);
                            }
                        }
                        TableConstraint::ForeignKey(fk) => {
                            if let ([child], [parent]) =
                                (fk.columns.as_slice(), fk.referred_columns.as_slice())
                            {
                                foreign.insert(
                                    child.value.to_lowercase(),
                                    (table_name(&fk.foreign_table), parent.value.to_lowercase()),
                                );
                            }
                        }
                        _ => {}
                    }
                }
                keys.foreign = foreign;
                let mut tables = self.tables.lock().expect("keys lock");
                let name = table_name(&table.name);
                if keys == TableKeys::default() {
                    tables.remove(&name);
                } else {
                    tables.insert(name, keys);
                }
            }
            Statement::Drop { names, .. } => {
                let mut tables = self.tables.lock().expect("keys lock");
                for name in names {
                    tables.remove(&table_name(name));
                }
            }
            _ => {}
        }
    }

    /// Rewrites `statement` as Redshift's planner may run it, given the declared keys (above).
    pub fn assume(&self, statement: &mut Statement) {
        let tables = self.tables.lock().expect("keys lock").clone();
        if tables.is_empty() {
            return;
        }
        let mut ctes = HashMap::new();
        // A common table expression reading one table (filtered or not) stands for that table;
        // found over the whole statement, to a fixed point for expressions reading expressions.
        loop {
            let mut finder = CteFinder {
                ctes: &mut ctes,
                tables: &tables,
                grew: false,
            };
            let _ = sqlparser::ast::Visit::visit(&*statement, &mut finder);
            if !finder.grew {
                break;
            }
        }
        let _ = statement.visit(&mut Assume {
            tables: &tables,
            ctes: &ctes,
        });
    }
}

/// The one table a query reads, with no join: a table, or a common table expression that reads one.
fn base_of(
    query: &Query,
    ctes: &HashMap<String, String>,
    tables: &HashMap<String, TableKeys>,
) -> Option<String> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    match &from.relation {
        TableFactor::Table { name, .. } => {
            let name = table_name(name);
            ctes.get(&name)
                .cloned()
                .or_else(|| tables.contains_key(&name).then_some(name))
        }
        _ => None,
    }
}

struct CteFinder<'a> {
    ctes: &'a mut HashMap<String, String>,
    tables: &'a HashMap<String, TableKeys>,
    grew: bool,
}

impl sqlparser::ast::Visitor for CteFinder<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = cte.alias.name.value.to_lowercase();
                if !self.ctes.contains_key(&name)
                    && let Some(base) = base_of(&cte.query, self.ctes, self.tables)
                {
                    self.ctes.insert(name, base);
                    self.grew = true;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

struct Assume<'a> {
    tables: &'a HashMap<String, TableKeys>,
    ctes: &'a HashMap<String, String>,
}

impl VisitorMut for Assume<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.set_expr(&mut query.body);
        ControlFlow::Continue(())
    }
}

impl Assume<'_> {
    fn set_expr(&self, body: &mut SetExpr) {
        match body {
            SetExpr::Select(select) => self.select(select),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            _ => {}
        }
    }

    /// The tables a select's FROM names, by the name or alias its expressions use.
    fn scope(&self, select: &Select) -> HashMap<String, String> {
        let mut scope = HashMap::new();
        let factors = select.from.iter().flat_map(|from| {
            std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation))
        });
        for factor in factors {
            if let TableFactor::Table { name, alias, .. } = factor {
                let table = table_name(name);
                let base = self
                    .ctes
                    .get(&table)
                    .cloned()
                    .or_else(|| self.tables.contains_key(&table).then(|| table.clone()));
                if let Some(base) = base {
                    let used = alias
                        .as_ref()
                        .map_or(table, |alias| alias.name.value.to_lowercase());
                    scope.insert(used, base);
                }
            }
        }
        scope
    }

    fn select(&self, select: &mut Select) {
        let scope = self.scope(select);
        let single = match select.from.as_slice() {
            [from] if from.joins.is_empty() => scope.values().next().cloned(),
            _ => None,
        };
        // Over a join a key repeats with the rows it matches: only a one-table count is assumed.
        let projection = if single.is_some() {
            select.projection.as_mut_slice()
        } else {
            &mut []
        };
        for item in projection {
            match item {
                sqlparser::ast::SelectItem::UnnamedExpr(expr)
                | sqlparser::ast::SelectItem::ExprWithAlias { expr, .. } => {
                    self.count_distinct(expr, &scope, single.as_deref());
                }
                _ => {}
            }
        }
        if let Some(having) = select.having.as_mut().filter(|_| single.is_some()) {
            self.count_distinct(having, &scope, single.as_deref());
        }
        if let Some(selection) = &mut select.selection {
            self.anti_join(selection, &scope);
        }
    }

    /// The table a column reference names: through its qualifier, or the select's one table.
    fn column_of(
        &self,
        expr: &Expr,
        scope: &HashMap<String, String>,
        single: Option<&str>,
    ) -> Option<(String, String)> {
        match expr {
            Expr::Identifier(column) => single.map(|t| (t.to_owned(), column.value.to_lowercase())),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [qualifier, column] => scope
                    .get(&qualifier.value.to_lowercase())
                    .map(|t| (t.clone(), column.value.to_lowercase())),
                _ => None,
            },
            Expr::Nested(inner) => self.column_of(inner, scope, single),
            _ => None,
        }
    }

    /// `COUNT(DISTINCT k)` of a declared unique `k` becomes `COUNT(k)`, in this expression and
    /// the arithmetic around it (not in its subqueries, which are queries of their own).
    fn count_distinct(
        &self,
        expr: &mut Expr,
        scope: &HashMap<String, String>,
        single: Option<&str>,
    ) {
        match expr {
            Expr::Function(function) if table_name(&function.name) == "count" => {
                if let FunctionArguments::List(list) = &mut function.args
                    && list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
                    && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice()
                    && let Some((table, column)) = self.column_of(arg, scope, single)
                    && self
                        .tables
                        .get(&table)
                        .is_some_and(|keys| keys.unique.contains(&column))
                {
                    list.duplicate_treatment = None;
                }
            }
            Expr::BinaryOp { left, right, .. } => {
                self.count_distinct(left, scope, single);
                self.count_distinct(right, scope, single);
            }
            Expr::Nested(inner) | Expr::UnaryOp { expr: inner, .. } => {
                self.count_distinct(inner, scope, single);
            }
            Expr::Cast { expr: inner, .. } => self.count_distinct(inner, scope, single),
            _ => {}
        }
    }

    /// A NOT EXISTS over a declared foreign key's parent, matched on the key, becomes FALSE,
    /// among the conditions of a WHERE (AND, OR, NOT and parentheses).
    fn anti_join(&self, expr: &mut Expr, scope: &HashMap<String, String>) {
        match expr {
            Expr::BinaryOp { left, right, .. } => {
                self.anti_join(left, scope);
                self.anti_join(right, scope);
            }
            Expr::Nested(inner)
            | Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: inner,
            } => self.anti_join(inner, scope),
            Expr::Exists {
                subquery,
                negated: true,
            } if self.assumed_found(subquery, scope) => {
                *expr = Expr::Value(Value::Boolean(false).into());
            }
            _ => {}
        }
    }

    /// Whether `subquery` looks up the parent row of a declared foreign key of the outer query.
    fn assumed_found(&self, subquery: &Query, outer: &HashMap<String, String>) -> bool {
        let SetExpr::Select(select) = subquery.body.as_ref() else {
            return false;
        };
        let inner = self.scope(select);
        let ([from], Some(selection)) = (select.from.as_slice(), &select.selection) else {
            return false;
        };
        if !from.joins.is_empty() || inner.len() != 1 {
            return false;
        }
        let Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::Eq,
            right,
        } = selection
        else {
            return false;
        };
        let parent = inner.values().next().cloned();
        let lookup = |parent_side: &Expr, child_side: &Expr| {
            let Some((parent_table, parent_column)) =
                self.column_of(parent_side, &inner, parent.as_deref())
            else {
                return false;
            };
            let Some((child_table, child_column)) = self.column_of(child_side, outer, None) else {
                return false;
            };
            let parent_keyed = self
                .tables
                .get(&parent_table)
                .is_some_and(|keys| keys.unique.contains(&parent_column));
            let child_refers = self.tables.get(&child_table).is_some_and(|keys| {
                keys.foreign.get(&child_column)
                    == Some(&(parent_table.clone(), parent_column.clone()))
            });
            parent_keyed && child_refers
        };
        lookup(left, right) || lookup(right, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::LocalRedshift;
    use sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&LocalRedshift::default(), sql)
            .unwrap()
            .remove(0)
    }

    fn keys() -> DeclaredKeys {
        let keys = DeclaredKeys::default();
        for sql in [
            "CREATE TABLE users (user_id INTEGER NOT NULL, PRIMARY KEY (user_id))",
            "CREATE TABLE songs (song_id VARCHAR(32) PRIMARY KEY, title VARCHAR(256))",
            "CREATE TABLE songplays (songplay_id CHAR(32) NOT NULL, user_id INTEGER, song_id VARCHAR(32), \
             PRIMARY KEY (songplay_id), FOREIGN KEY (user_id) REFERENCES users (user_id), \
             FOREIGN KEY (song_id) REFERENCES songs (song_id))",
        ] {
            keys.record(&parse(sql));
        }
        keys
    }

    fn assumed(keys: &DeclaredKeys, sql: &str) -> String {
        let mut statement = parse(sql);
        keys.assume(&mut statement);
        statement.to_string()
    }

    #[test]
    fn a_distinct_count_of_a_declared_key_counts_every_row() {
        let keys = keys();
        let out = assumed(
            &keys,
            "SELECT COUNT(*) - COUNT(DISTINCT songplay_id) FROM songplays",
        );
        assert_eq!(out, "SELECT COUNT(*) - COUNT(songplay_id) FROM songplays");
        let out = assumed(&keys, "SELECT COUNT(DISTINCT s.song_id) FROM songs s");
        assert_eq!(out, "SELECT COUNT(s.song_id) FROM songs s");
        // Not a key, or not one table: left as written.
        for sql in [
            "SELECT COUNT(DISTINCT title) FROM songs",
            "SELECT COUNT(DISTINCT song_id) FROM songplays",
            "SELECT COUNT(DISTINCT s.song_id) FROM songs s JOIN songplays p ON p.song_id = s.song_id",
            "SELECT COUNT(DISTINCT song_id || '') FROM songs",
        ] {
            let out = assumed(&keys, sql);
            assert!(out.contains("DISTINCT"), "{sql}: {out}");
        }
    }

    #[test]
    fn an_anti_join_over_a_declared_foreign_key_finds_nothing() {
        let keys = keys();
        let out = assumed(
            &keys,
            "WITH settled AS (SELECT sp.* FROM songplays sp WHERE sp.user_id > 0) \
             SELECT COUNT(*) FROM settled sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = sp.user_id)",
        );
        assert!(out.ends_with("WHERE false"), "{out}");
        // From a table without that foreign key (a staging table), or on another column: kept.
        for sql in [
            "SELECT COUNT(*) FROM staging sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = sp.user_id)",
            "SELECT COUNT(*) FROM songplays sp WHERE NOT EXISTS (SELECT 1 FROM songs s WHERE s.title = sp.song_id)",
            "SELECT COUNT(*) FROM songplays sp WHERE NOT EXISTS (SELECT 1 FROM users u WHERE CAST(u.user_id AS VARCHAR) = CAST(sp.user_id AS VARCHAR))",
        ] {
            let out = assumed(&keys, sql);
            assert!(out.contains("NOT EXISTS"), "{sql}: {out}");
        }
    }

    #[test]
    fn a_dropped_table_is_forgotten() {
        let keys = keys();
        keys.record(&parse("DROP TABLE IF EXISTS songplays"));
        let out = assumed(&keys, "SELECT COUNT(DISTINCT songplay_id) FROM songplays");
        assert!(out.contains("DISTINCT"), "{out}");
    }
}
