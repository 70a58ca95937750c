-- A transfer the vendor's debt took whole cannot be written without the column.
DELETE FROM transfers WHERE amount = recovered_amount;
UPDATE transfers SET amount = amount - recovered_amount WHERE recovered_amount > 0;
ALTER TABLE transfers DROP COLUMN recovered_amount;
