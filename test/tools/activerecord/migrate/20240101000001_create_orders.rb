class CreateOrders < ActiveRecord::Migration[6.1]
  def change
    create_table :customers do |t|
      t.string :name
    end
    create_table :orders do |t|
      t.integer :amount, null: false, default: 0
    end
  end
end
