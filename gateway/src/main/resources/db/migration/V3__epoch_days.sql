-- One row per UTC day that booking or settlement has touched: both lock it (SELECT ... FOR UPDATE)
-- before reading or changing what the day's epoch holds, so a day is closed either before a charge is
-- tagged with it (and the charge moves to the next open day) or after (and the close counts it).
CREATE TABLE epoch_days (
    epoch  VARCHAR(10)  PRIMARY KEY
);
