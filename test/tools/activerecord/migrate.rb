# Run the migrations in migrate/ up to a version, against one database:
# ruby migrate.rb DBNAME VERSION.  The server is the one PGHOST, PGPORT and
# PGUSER name.  ActiveRecord runs each migration in a transaction (its
# DDL transaction), as a deployment would.
require 'active_record'

ActiveRecord::Base.establish_connection(
  adapter: 'postgresql', database: ARGV[0], host: ENV['PGHOST'],
  port: ENV['PGPORT'], username: ENV['PGUSER']
)
ActiveRecord::Migration.verbose = true
context = ActiveRecord::MigrationContext.new(
  File.join(__dir__, 'migrate'), ActiveRecord::SchemaMigration
)
context.up(Integer(ARGV[1]))
