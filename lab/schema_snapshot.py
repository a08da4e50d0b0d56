"""A normalized, server-version-independent text description of a database schema.

pg_dump output differs between PostgreSQL 15 and 18, so the committed
snapshot (schema/snapshot.txt) is built from catalog queries whose output
is the same on both: columns, constraints, indexes, functions and comments.
A test migrates an empty database and compares it with the snapshot.
"""

from __future__ import annotations

import psycopg

SECTIONS: list[tuple[str, str]] = [
    ("columns", """
        SELECT format('%s.%s %s%s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                      CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                      CASE a.attidentity WHEN 'd' THEN ' IDENTITY BY DEFAULT'
                                         WHEN 'a' THEN ' IDENTITY ALWAYS' ELSE '' END,
                      coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0
          AND NOT a.attisdropped
        ORDER BY c.relname, a.attnum"""),
    ("constraints", """
        SELECT format('%s %s %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND k.contype <> 'n'
        ORDER BY c.relname, k.conname"""),
    ("indexes", """
        SELECT pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
        ORDER BY c.relname"""),
    ("functions", """
        SELECT format('%s(%s) RETURNS %s LANGUAGE %s md5=%s', p.proname,
                      pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
                      l.lanname, md5(p.prosrc))
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = 'public'
        ORDER BY p.proname, 1"""),
    ("comments", """
        SELECT format('%s %s: %s', kind, name, description) FROM (
            SELECT 'relation' AS kind, c.relname AS name, d.description
            FROM pg_description d
            JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
                           AND d.objsubid = 0
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            UNION ALL
            SELECT 'function', p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
                   d.description
            FROM pg_description d
            JOIN pg_proc p ON p.oid = d.objoid AND d.classoid = 'pg_proc'::regclass
            JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
        ) AS described
        ORDER BY kind, name"""),
]


def snapshot(conn: psycopg.Connection) -> str:
    """Return the schema of `conn`'s database as sorted, sectioned text."""
    parts = []
    for title, query in SECTIONS:
        rows = conn.execute(query).fetchall()  # type: ignore[arg-type]
        parts.append(f"-- {title}\n" + "".join(f"{row[0]}\n" for row in rows))
    return "\n".join(parts)
