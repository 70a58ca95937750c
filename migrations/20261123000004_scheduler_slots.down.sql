DROP TABLE scheduler_slots;
