-- Ends the statement that calls it with SQLSTATE PL001 and `reason`, so that nothing the
-- statement wrote stays. A write done as one statement calls it when a guard it depends
-- on failed (see `complete_in_one` in src/checkout.rs); the caller then takes its
-- transactional path. VOLATILE, so it is only ever called where the statement reaches it.
CREATE FUNCTION paylink_refuse(reason TEXT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PL001', MESSAGE = reason;
END
$$;
