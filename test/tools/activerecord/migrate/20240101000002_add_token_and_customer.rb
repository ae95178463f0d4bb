# What an application's next release adds to a big table, the Rails way:
# a NOT NULL uuid column with a volatile default and a unique index on it,
# then a reference with its index and a foreign key.  Rails sends them in
# one transaction: ADD COLUMN, CREATE UNIQUE INDEX, ADD COLUMN, CREATE
# INDEX, ADD CONSTRAINT ... FOREIGN KEY.
class AddTokenAndCustomer < ActiveRecord::Migration[6.1]
  def change
    add_column :orders, :token, :uuid, null: false, default: -> { 'gen_random_uuid()' }
    add_index :orders, :token, unique: true
    add_reference :orders, :customer, index: true, foreign_key: true
  end
end
