/*-------------------------------------------------------------------------
 *
 * classify.h
 *	  What a plain ALTER TABLE ... ADD COLUMN would do under its lock, and
 *	  whether schema_guard can do the same thing online.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_CLASSIFY_H
#define SG_CLASSIFY_H

#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"
#include "utils/relcache.h"

/* What the plain statement costs while it holds ACCESS EXCLUSIVE. */
typedef enum SgRisk
{
	SG_RISK_NONE,				/* catalog change only */
	SG_RISK_SCAN,				/* reads every row to check a constraint */
	SG_RISK_INDEX_BUILD,		/* builds an index */
	SG_RISK_REWRITE				/* writes a new copy of the table */
} SgRisk;

/* What schema_guard can do about it. */
typedef enum SgPath
{
	SG_PATH_PLAIN,				/* nothing: the plain statement is quick */
	SG_PATH_FAILS_FAST,			/* the plain statement fails at once; let it */
	SG_PATH_STAGE,				/* run online: add, then backfill */
	SG_PATH_NOT_YET,			/* an online path exists, not taken by this
								 * version: run as written with a warning */
	SG_PATH_NONE				/* PostgreSQL has no online equivalent */
} SgPath;

/* One ADD COLUMN subcommand, as classified. */
typedef struct SgAddColumn
{
	AlterTableCmd *cmd;			/* the subcommand, in the caller's tree */
	ColumnDef  *def;
	const char *colname;
	Oid			typid;
	int32		typmod;

	/* the column as PostgreSQL would define it */
	bool		is_serial;
	char		identity;		/* ATTRIBUTE_IDENTITY_* or '\0' */
	List	   *identity_options;	/* sequence options of the identity */
	bool		generated;		/* GENERATED ALWAYS AS (...) STORED */
	bool		virtual_generated;	/* GENERATED ALWAYS AS (...) [VIRTUAL] (18) */
	bool		not_null;
	char	   *not_null_name;	/* CONSTRAINT name NOT NULL (18 keeps it) */
	bool		not_null_no_inherit;	/* NOT NULL NO INHERIT (18) */
	Node	   *raw_default;	/* the column's own DEFAULT clause */
	Node	   *fill_expr;		/* cooked value stock would fill rows with */
	Node	   *fill_planned;	/* as PostgreSQL plans it, or NULL */
	Oid			fill_unplanned; /* explain(): the users' function planning it
								 * would have computed */
	bool		fill_volatile;
	bool		domain_checks;	/* the type is a domain with constraints */
	bool		has_check;		/* an enforced CHECK */
	bool		has_fk;			/* an enforced REFERENCES */
	bool		fk_validates;	/* the FK is checked against existing rows */
	bool		has_unique;
	bool		has_pkey;
	bool		already_exists; /* IF NOT EXISTS and the column is there */

	/* the verdict */
	SgRisk		risk;
	SgPath		path;
	char	   *reason;			/* one sentence: why this risk */
	char	   *refuse_detail;	/* for SG_PATH_NONE: why no online path */
	char	   *refuse_hint;	/* for SG_PATH_NONE: what to do instead */
} SgAddColumn;

/* A whole ALTER TABLE statement, as classified. */
typedef struct SgAlterPlan
{
	Oid			relid;
	char		relkind;
	bool		recurse;		/* not ONLY */
	int64		table_blocks;	/* blocks of every table that stores rows */
	List	   *columns;		/* SgAddColumn, in statement order */
	char	   *other_rewrite;	/* a subcommand that may rewrite, or NULL */
	SgRisk		risk;			/* the worst of the columns */
	SgPath		path;			/* the statement as a whole */
	char	   *error;			/* classification failed with this message */
	char	   *unexplained;	/* explain(): reading the statement runs users' code */
	char	   *fails_why;		/* reason of the first column that fails */
	TimestampTz locked_at;		/* when the ALTER got its table lock */
} SgAlterPlan;

extern SgAlterPlan *sg_classify_alter(Relation rel, AlterTableStmt *stmt,
									  const char *queryString, LOCKMODE lockmode);
extern SgAlterPlan *sg_classify_alter_safely(Relation rel, AlterTableStmt *stmt,
											 const char *queryString,
											 LOCKMODE lockmode, bool trial);

extern SgRisk sg_subcommand_risk(AlterTableCmd *cmd, const char **what);
extern const char *sg_risk_name(SgRisk risk);
extern bool sg_statement_has_add_column(AlterTableStmt *stmt);
extern int64 sg_storage_blocks(Oid relid, bool recurse, LOCKMODE lockmode);

#endif							/* SG_CLASSIFY_H */
